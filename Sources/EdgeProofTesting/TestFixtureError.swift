import EdgeProofLocalStack

/// A fixture could not be set up.
public typealias TestFixtureError = LocalStackError
