import Hummingbird
import Logging

/// The outermost middleware: every response, a route's or an error's, leaves through here.
///
/// - Errors become `{"error": {"code", "message"}}` with their status (an unknown route is a JSON 404,
///   a body over the limit a 413); anything unexpected is a 500 whose details stay in the log.
/// - Security headers on everything: a CSP with no inline script, `nosniff`, no referrer, no framing;
///   `Cache-Control: no-store` on `/api/*` and `/metrics` so board content stays out of caches.
/// - The console's static files for `GET` of anything outside `/api/`.
struct FrontDoor<Context: RequestContext>: RouterMiddleware {
    let console: ConsoleFiles
    let logger: Logger

    static var contentSecurityPolicy: String {
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        var response: Response
        if request.method == .get || request.method == .head, !path.hasPrefix("/api/"), let file = console.file(at: path) {
            response = Response(status: .ok, headers: [.contentType: file.contentType],
                                body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
        } else {
            do {
                response = try await next(request, context)
            } catch let error as WebError {
                response = try error.response(from: request, context: context)
            } catch let error as HTTPError {
                response = try Self.translate(error).response(from: request, context: context)
            } catch {
                // Never echo internals (or anything a request carried) back; the log has it.
                logger.error("request failed", metadata: ["path": "\(path)", "error": "\(error)"])
                response = try WebError(.internalServerError, "internal", "the request failed; see the server's log")
                    .response(from: request, context: context)
            }
        }
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HeaderName("Referrer-Policy")!] = "no-referrer"
        response.headers[HeaderName("X-Frame-Options")!] = "DENY"
        if path.hasPrefix("/api/") || path == "/metrics" || path == "/healthz" { response.headers[.cacheControl] = "no-store" }
        return response
    }

    /// Hummingbird's own errors (no route, a body too large, a method not allowed) in our shape.
    static func translate(_ error: HTTPError) -> WebError {
        switch error.status {
        case .notFound: return WebError.notFound("no such route")
        case .contentTooLarge: return WebError.tooLarge
        case .methodNotAllowed: return WebError(.methodNotAllowed, "method_not_allowed", "this route does not take that method")
        case .badRequest: return WebError.badRequest(error.body ?? "bad request")
        default: return WebError(error.status, error.status.code < 500 ? "bad_request" : "internal", error.status.reasonPhrase)
        }
    }
}
