// Tests that use the kit also start brokers and TPMs and make work directories: the product's local stack comes
// with it, so that a test file imports the kit only.
@_exported import EdgeProofLocalStack
