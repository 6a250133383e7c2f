import Foundation
import Hummingbird
import KanbanModel
import KanbanProtocol

/// What every route shares: the coordinator's wire, the sessions, the event hub and the settings.
struct WebServices: Sendable {
    let calls: CoordinatorCalls
    let sessions: Sessions
    let hub: EventHub
    let settings: WebSettings
    let streams: StreamSlots

    /// Sends `request` with the caller's token. A token the coordinator no longer knows (a rotated
    /// lane token) ends the session, so the browser is sent back to login instead of failing forever.
    func call(_ request: KanbanProtocol.Request, as caller: Caller) async throws -> JSONValue {
        do {
            return try await calls.call(request, auth: caller.token)
        } catch let error as WebError where error.code == "unauthorized" {
            if let session = caller.session { sessions.close(session.id) }
            throw WebError.unauthorized
        }
    }
}

/// A JSON reply (`no-store` and the other headers come from `FrontDoor`).
func jsonResponse(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
    var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
    headers.append(contentsOf: extra)
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONCodec.encode(value))))
}

/// A request's body as a JSON object (`{}` when empty): 413 past `WebLimits.maxBodyBytes`, 400 when
/// it is not a JSON object.
func jsonBody(_ request: Request) async throws -> [String: JSONValue] {
    if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > WebLimits.maxBodyBytes { throw WebError.tooLarge }
    let buffer: ByteBuffer
    do {
        buffer = try await request.body.collect(upTo: WebLimits.maxBodyBytes)
    } catch let error as HTTPError where error.status == .contentTooLarge {
        throw WebError.tooLarge
    }
    if buffer.readableBytes == 0 { return [:] }
    guard let value = JSONCodec.decode(Array(buffer.readableBytesView)), case .object(let object) = value else {
        throw WebError.badRequest("the body must be a JSON object")
    }
    return object
}

/// Bounds the SSE streams open at once (each holds a queue of up to `WebLimits.sseQueue` events).
final class StreamSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var open = 0
    let limit: Int
    init(limit: Int) { self.limit = limit }
    func take() -> Bool { lock.withLock { guard open < limit else { return false }; open += 1; return true } }
    func give() { lock.withLock { open -= 1 } }
}

/// A header name (swift-http-types' `HTTPField.Name`, reached through the `HTTPFields` Hummingbird exports).
typealias HeaderName = HTTPFields.Element.Name
