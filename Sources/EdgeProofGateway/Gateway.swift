// The Gateway service arrives here.
