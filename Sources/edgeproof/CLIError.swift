/// A command failed for a reason the user can act on; ArgumentParser prints it and exits 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
