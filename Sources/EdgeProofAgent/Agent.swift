// The Agent service arrives here.
