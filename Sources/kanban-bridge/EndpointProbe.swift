import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether anything listens on a ZeroMQ endpoint, found with a plain socket connect. Used for the PUB
/// socket, which never answers anything a client could ask (the command socket is pinged instead).
enum EndpointProbe {
    enum Result: Equatable {
        case listening
        /// Nothing listens there, in plain words.
        case unreachable(String)
        /// A transport we cannot probe this way (inproc, pgm, …).
        case notProbed(String)
    }

    static func probe(_ endpoint: String, timeoutMs: Int) -> Result {
        if endpoint.hasPrefix("ipc://") { return probeUnix(String(endpoint.dropFirst(6)), timeoutMs: timeoutMs) }
        guard endpoint.hasPrefix("tcp://") else { return .notProbed("only tcp:// and ipc:// endpoints can be probed") }
        let rest = String(endpoint.dropFirst(6))
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
            return .unreachable("'\(endpoint)' is not host:port (e.g. tcp://127.0.0.1:5556)")
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "*" || host.isEmpty { host = "127.0.0.1" }  // a bind address: probe it locally
        return probeTCP(host: host, port: port, timeoutMs: timeoutMs)
    }

    private static func probeTCP(host: String, port: Int, timeoutMs: Int) -> Result {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            return .unreachable("cannot resolve host '\(host)'")
        }
        defer { freeaddrinfo(list) }
        var why = "nothing listens on \(host):\(port)"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            if let verdict = connect(family: ai.pointee.ai_family, address: ai.pointee.ai_addr, length: ai.pointee.ai_addrlen,
                                     timeoutMs: timeoutMs) {
                why = verdict
            } else {
                return .listening
            }
            entry = ai.pointee.ai_next
        }
        return .unreachable(why)
    }

    private static func probeUnix(_ path: String, timeoutMs: Int) -> Result {
        guard FileManager.default.fileExists(atPath: path) else { return .unreachable("no socket file at \(path)") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return .unreachable("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let verdict = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(family: AF_UNIX, address: $0, length: socklen_t(MemoryLayout<sockaddr_un>.size), timeoutMs: timeoutMs)
            }
        }
        return verdict.map { .unreachable("\(path): \($0)") } ?? .listening
    }

    /// Nil when the connect succeeded within the timeout, else why not.
    private static func connect(family: Int32, address: UnsafePointer<sockaddr>?, length: socklen_t, timeoutMs: Int) -> String? {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        if Glibc.connect(fd, address, length) == 0 { return nil }
        guard errno == EINPROGRESS else { return String(cString: strerror(errno)).lowercased() }
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&pfd, 1, Int32(timeoutMs)) == 1 else { return "no answer within \(timeoutMs) ms" }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err == 0 ? nil : String(cString: strerror(err)).lowercased()
    }
}
