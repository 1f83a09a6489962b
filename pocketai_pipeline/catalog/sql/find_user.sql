SELECT id FROM users WHERE username = :username
