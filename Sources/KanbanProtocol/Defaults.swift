/// Default endpoints of a local coordinator (contract v1).
public enum Endpoints {
    public static let command = "tcp://127.0.0.1:5555"
    public static let events = "tcp://127.0.0.1:5556"

    /// True when `endpoint` can only be reached from this machine: `ipc://`, `inproc://`, or `tcp://`
    /// on a loopback address (127.0.0.0/8, `localhost`, `[::1]`, the `lo` interface). Anything else
    /// (`tcp://*:5555`, `0.0.0.0`, a LAN address, other transports) is reachable from outside.
    public static func isLocal(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        let rest = endpoint.dropFirst("tcp://".count)
        let host: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return false }
            host = rest[rest.index(after: rest.startIndex)..<close]
        } else {
            guard let colon = rest.lastIndex(of: ":") else { return false }
            host = rest[..<colon]
        }
        if host == "localhost" || host == "lo" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { o in UInt8(o) != nil }
    }
}
