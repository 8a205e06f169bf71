"""Pure functions over the Book's DataFrames: no file I/O, no clock (today is a parameter)."""
