"""Tools that use a pushed model: predict."""
