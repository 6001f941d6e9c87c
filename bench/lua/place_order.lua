-- POST /api/orders, one new order per request.
request = place_order_request
