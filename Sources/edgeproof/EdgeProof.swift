@main
struct EdgeProof {
    static func main() {}
}
