-- GET endpoints: rotate through the paths in the data file.
request = get_request
