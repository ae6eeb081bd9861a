// The Collector service arrives here.
