import AsyncHTTPClient
import Foundation
import KanbanModel
import KanbanWeb
import Logging
import NIOCore
import NIOHTTP1

/// A real coordinator and a real HTTP face on a free loopback port, and an HTTP client that talks to
/// it over TCP (AsyncHTTPClient): what a browser or `curl` would see.
final class LiveWeb: @unchecked Sendable {
    let coordinator: LiveCoordinator
    let face: WebFace
    let port: Int
    var base: String { "http://127.0.0.1:\(port)" }

    init(dispatch: Bool = false) throws {
        coordinator = try LiveCoordinator(dispatch: dispatch)
        var settings = WebSettings(bind: HTTPBind(host: "127.0.0.1", port: 0), commandEndpoint: coordinator.commandEndpoint,
                                   eventEndpoint: coordinator.eventEndpoint, token: coordinator.adminToken)
        settings.keepaliveSeconds = 1
        var logger = Logger(label: "test-web")
        // Hummingbird logs a cancelled shutdown at error level; the tests stop faces that way on purpose.
        logger.logLevel = ProcessInfo.processInfo.environment["KB_TEST_DEBUG"] != nil ? .debug : .critical
        face = WebFace(settings: settings, console: .bundled(), logger: logger)
        port = try face.start()
    }

    deinit { face.stop() }

    struct Reply {
        let status: Int
        let headers: HTTPHeaders
        let body: String
        var json: JSONValue { JSONCodec.decode(Array(body.utf8)) ?? .null }
        /// The `kb_session` cookie's value from Set-Cookie.
        var sessionCookie: String? {
            headers["set-cookie"].first { $0.hasPrefix("kb_session=") }?.split(separator: ";").first.map { String($0.dropFirst("kb_session=".count)) }
        }
    }

    /// One request; every wait is bounded (30 s).
    func send(_ method: HTTPMethod, _ path: String, json: String? = nil, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    /// Logs in with `token`; the session cookie and CSRF token to send afterwards.
    func login(_ token: String) async throws -> (cookie: String, csrf: String) {
        let reply = try await send(.POST, "/api/login", json: #"{"token": "\#(token)"}"#)
        guard reply.status == 200, let cookie = reply.sessionCookie, let csrf = reply.json["csrf"]?.stringValue else {
            throw WebTestError("login failed: \(reply.status) \(reply.body)")
        }
        return (cookie, csrf)
    }
}

struct WebTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Reads an SSE stream message by message (`id`, `event`, `data`), skipping comments.
final class SSEReader {
    struct Message { let id: Int64?; let event: String?; let data: String }
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private var buffer = ""
    let status: Int

    init(_ web: LiveWeb, cookie: String, lastEventID: Int64? = nil) async throws {
        var request = HTTPClientRequest(url: web.base + "/api/stream")
        request.headers.add(name: "Cookie", value: "kb_session=\(cookie)")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: "\(lastEventID)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        status = Int(response.status.code)
        iterator = response.body.makeAsyncIterator()
    }

    /// The next message, or nil when the stream ends.
    func next() async throws -> Message? {
        while true {
            if let end = buffer.range(of: "\n\n") {
                let block = String(buffer[..<end.lowerBound])
                buffer.removeSubrange(..<end.upperBound)
                var id: Int64?, event: String?, data: String?
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("id: ") { id = Int64(line.dropFirst(4)) }
                    if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
                }
                if let data { return Message(id: id, event: event, data: data) }
                continue  // a comment (keepalive) or a retry hint
            }
            guard let chunk = try await iterator.next() else { return nil }
            buffer += String(buffer: chunk)
        }
    }
}

/// Runs `body` and fails (throws) if it takes longer than `seconds`: every wait in these tests is bounded.
func within<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask { try await Task.sleep(nanoseconds: UInt64(seconds * 1e9)); return nil }
        guard let first = try await group.next(), let value = first else {
            group.cancelAll()
            throw WebTestError("not within \(Int(seconds)) s: \(what)")
        }
        group.cancelAll()
        return value
    }
}
