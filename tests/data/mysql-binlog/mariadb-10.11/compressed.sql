USE sx;
INSERT INTO l VALUES (2, REPEAT('a', 40), REPEAT('b', 300), 'cccc', 'dd');
UPDATE l SET a = 'changed compressed row' WHERE id = 2;
DELETE FROM l WHERE id = 1;
