INSERT INTO users (username, email, is_developer)
VALUES (:username, :email, true)
ON CONFLICT (username) DO NOTHING
RETURNING id
