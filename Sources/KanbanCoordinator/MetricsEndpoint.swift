import Logging
import ZeroMQ

/// `GET /metrics` over plain HTTP for Prometheus, served by the owner thread from a ZeroMQ STREAM
/// socket (raw TCP): no second thread, no HTTP library. One request per connection; anything that is
/// not a small, well-formed GET gets an error status and the connection is closed.
final class MetricsEndpoint {
    let socket: ZMQSocket
    private let log: Logger
    /// Bytes received so far per connection (routing id), until the blank line ending the headers.
    private var partial: [[UInt8]: [UInt8]] = [:]
    static let maxRequestBytes = 8 * 1024
    static let maxOpenRequests = 64

    init(context: ZMQContext, endpoint: String, log: Logger) throws {
        socket = try ZMQSocket(context, .stream)
        self.log = log
        let bound = try socket.bind(endpoint)
        log.info("metrics", metadata: ["endpoint": "\(bound)", "path": "/metrics"])
    }

    /// Reads what arrived; answers each complete request with `render()` for `GET /metrics`.
    func serve(render: () -> String) {
        while let frames = try? socket.receive(dontWait: true), frames.count == 2 {
            let (id, data) = (frames[0], frames[1])
            // An empty frame is libzmq telling us a peer connected or went away: start clean.
            guard !data.isEmpty else { partial[id] = nil; continue }
            var buffer = (partial[id] ?? []) + data
            guard let response = Self.respond(to: &buffer, render: render) else {
                if partial.count >= Self.maxOpenRequests, partial[id] == nil { close(id); continue }
                partial[id] = buffer
                continue
            }
            partial[id] = nil
            try? socket.send([id, Array(response.utf8)], dontWait: true)
            close(id)
        }
    }

    /// The response for a complete request in `buffer`, or nil while the headers are unfinished.
    static func respond(to buffer: inout [UInt8], render: () -> String) -> String? {
        guard let end = headerEnd(buffer) else {
            return buffer.count > maxRequestBytes ? status(431, "Request Header Fields Too Large") : nil
        }
        let head = String(decoding: buffer[..<end], as: UTF8.self)
        let parts = head.split(separator: "\r\n", maxSplits: 1).first?.split(separator: " ") ?? []
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return status(400, "Bad Request") }
        guard parts[0] == "GET" else { return status(405, "Method Not Allowed") }
        let path = parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard path == "/metrics" else { return status(404, "Not Found", body: "try /metrics\n") }
        let body = render()
        return "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
    }

    static func status(_ code: Int, _ reason: String, body: String = "") -> String {
        "HTTP/1.1 \(code) \(reason)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
    }

    /// Where the headers end: the index of the blank line's CR LF CR LF.
    private static func headerEnd(_ b: [UInt8]) -> Int? {
        Bytes.end(of: [13, 10, 13, 10], in: b[...]).map { $0 - 4 }
    }

    /// A STREAM socket closes a connection when sent an empty frame for it.
    private func close(_ id: [UInt8]) {
        try? socket.send([id, []], dontWait: true)
    }
}
