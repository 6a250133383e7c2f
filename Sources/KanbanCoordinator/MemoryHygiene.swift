#if canImport(Glibc)
import Glibc
#endif

/// Memory a burst used goes back to the system once the burst is over.
///
/// glibc raises its mmap threshold each time a large block is freed, so after a flood of 1 MB requests
/// (or big replies) later large blocks come from the heap, and a heap with live data at its top never
/// shrinks: RSS stays at the burst's peak. Pinning the threshold keeps large blocks (request frames,
/// replies, libzmq message bodies) in their own mappings, returned on free; a periodic `malloc_trim`
/// returns what the heap freed. Measured with the hostile scenario of kanban-bench (docs/PERFORMANCE.md).
public enum MemoryHygiene {
    /// Blocks at least this big get a mapping of their own.
    static let mmapThresholdBytes: Int32 = 256 * 1024
    /// How often the loop hands freed heap back (ms). Written only by `configure()`, at process start,
    /// before the loop thread exists.
    nonisolated(unsafe) static var trimEveryMs: Int64 = 10_000
    /// A test seam, unset in production: the interop test of hostile clients (Tests/interop/test_hostile.py)
    /// sets a short interval, so it polls for a burst's memory to come back instead of waiting out 10 s.
    static let testTrimEveryMsVariable = "KANBAN_BRIDGE_TEST_TRIM_EVERY_MS"

    /// glibc's `M_MMAP_THRESHOLD` (malloc.h, which Swift's Glibc module does not expose).
    static let mmapThresholdOption: Int32 = -3

    /// Call once at process start (it is process-wide). Does nothing without glibc.
    public static func configure() {
        #if canImport(Glibc)
        if let value = getenv(testTrimEveryMsVariable).flatMap({ Int64(String(cString: $0)) }), value > 0 {
            trimEveryMs = value
        }
        #endif
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let f = symbol("mallopt", as: Mallopt.self) else { return }
        _ = f(mmapThresholdOption, mmapThresholdBytes)
    }

    /// Returns freed heap to the system (cheap: a walk of the free lists).
    static func trim() {
        typealias MallocTrim = @convention(c) (Int) -> Int32
        _ = symbol("malloc_trim", as: MallocTrim.self)?(0)
    }

    /// A C function of the running process by name (glibc's malloc tuning is not in Swift's Glibc module).
    private static func symbol<F>(_ name: String, as: F.Type) -> F? {
        #if canImport(Glibc)
        guard let p = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }  // RTLD_DEFAULT
        return unsafeBitCast(p, to: F.self)
        #else
        return nil
        #endif
    }
}
