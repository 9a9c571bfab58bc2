-- Run once as a superuser: psql -f init.sql
CREATE ROLE jeugdstroom LOGIN PASSWORD 'CHANGE-ME';
CREATE DATABASE jeugdstroom OWNER jeugdstroom ENCODING 'UTF8';
