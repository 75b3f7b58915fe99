-- Composite search parameters: a component's rows sit in its type's index table under
-- "<composite>$<component number>", and rows of one element share "elem" (NULL elsewhere).
ALTER TABLE idx_token ADD COLUMN elem INTEGER;
ALTER TABLE idx_string ADD COLUMN elem INTEGER;
ALTER TABLE idx_date ADD COLUMN elem INTEGER;
ALTER TABLE idx_number ADD COLUMN elem INTEGER;
ALTER TABLE idx_quantity ADD COLUMN elem INTEGER;
