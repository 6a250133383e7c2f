import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it; we close it
/// again and hand the number to a child process, which binds it a moment later).
public func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket() failed: errno \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw BenchError("bind() failed: errno \(errno)") }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return UInt16(bigEndian: addr.sin_port)
}

/// A failure that stops the benchmark, with a message for the operator.
public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Peak resident set size (VmHWM, KiB) of a running process, from /proc.
public func peakRSSKiB(pid: Int32) -> Int? { procStatusKiB(pid: pid, field: "VmHWM") }

/// Current resident set size (VmRSS, KiB) of a running process, from /proc.
public func currentRSSKiB(pid: Int32) -> Int? { procStatusKiB(pid: pid, field: "VmRSS") }

/// A `<field>: N kB` line of /proc/<pid>/status.
func procStatusKiB(pid: Int32, field: String) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
    return nil
}
