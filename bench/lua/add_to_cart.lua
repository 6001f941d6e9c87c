-- POST /api/cart as the registered shoppers.
request = add_to_cart_request
