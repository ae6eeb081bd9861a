import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Memory the C allocator holds but no longer uses, handed back to the system: after loading a large
/// allowlist or rebuilding the replay cache, the parser's and the growing tables' freed blocks
/// would otherwise stay resident for the life of the process.
public enum FreedMemory {
    /// glibc's `malloc_trim`, looked up at run time (Swift's Glibc module does not export malloc.h;
    /// other C libraries lack it, and this does nothing there).
    public static func release() {
        #if canImport(Glibc)
        typealias MallocTrim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }
}
