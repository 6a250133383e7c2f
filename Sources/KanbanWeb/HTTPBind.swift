/// Where the HTTP face listens (`--http 127.0.0.1:8080`), and whether that is this machine only.
public struct HTTPBind: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) { self.host = host; self.port = port }

    /// Parses `host:port` or `[v6]:port`; nil when it is neither.
    public init?(_ text: String) {
        let host: Substring, port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            port = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(":") || text.hasPrefix("["), let p = Int(port), (0...65535).contains(p) else { return nil }
        self.host = String(host)
        self.port = p
    }

    /// Loopback only: `127.0.0.0/8`, `::1`, `localhost`. Anything else reaches the network, where a
    /// session cookie and bearer tokens would cross in clear text unless TLS terminates in front.
    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
