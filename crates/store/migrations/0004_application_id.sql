-- wabot's own mark in the file header ("wabo"), so restore and open can tell a wabot
-- database from any other SQLite file.
PRAGMA application_id = 2002870895;
