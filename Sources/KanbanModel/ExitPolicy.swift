/// What a runner does with a claim when its worker process ends: a table from exit status to action,
/// which the user may change per lane (`--exit 75=release:60`). Agent CLIs signal more than done or
/// failed through their exit codes; 75 (EX_TEMPFAIL) is what Hermes' workers use for "rate-limited,
/// try later", which must not count as a failure.
public struct ExitPolicy: Equatable, Sendable {
    public enum Action: Equatable, Sendable {
        /// Done: `complete`, with the output's tail as the result.
        case complete
        /// Needs a human: `block`, with the output's tail as the reason.
        case block
        /// Not this time, no failure counted: `release`, claimable again after `retryAfterSeconds`.
        case release(retryAfterSeconds: Int?)
        /// A failure: `fail` (the run ends `crashed`; retried until the failure limit, then given up).
        case fail
    }

    /// Actions by exit code; codes not listed (and deaths by signal) take `otherwise`.
    public var byCode: [Int: Action]
    public var otherwise: Action

    /// 0 completes, 75 releases for a minute, anything else fails.
    public static let standard = ExitPolicy(byCode: [0: .complete, 75: .release(retryAfterSeconds: 60)], otherwise: .fail)

    public init(byCode: [Int: Action], otherwise: Action) { self.byCode = byCode; self.otherwise = otherwise }

    /// The action for a worker that exited with `code` (nil: killed by a signal).
    public func action(exitCode code: Int?) -> Action {
        guard let code else { return otherwise }
        return byCode[code] ?? otherwise
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// `standard` with each rule applied: `CODE=ACTION` or `other=ACTION`, where ACTION is `complete`,
    /// `block`, `fail`, `release` or `release:SECONDS`.
    public static func parse(_ rules: [String], base: ExitPolicy = .standard) throws(ParseError) -> ExitPolicy {
        var policy = base
        for rule in rules {
            let parts = rule.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ParseError(description: "exit rule '\(rule)': expected CODE=ACTION, e.g. 75=release:60") }
            let action = try Self.action(parts[1], rule: rule)
            if parts[0] == "other" {
                policy.otherwise = action
            } else if let code = Int(parts[0]), (0...255).contains(code) {
                policy.byCode[code] = action
            } else {
                throw ParseError(description: "exit rule '\(rule)': '\(parts[0])' is not an exit code 0-255 or 'other'")
            }
        }
        return policy
    }

    private static func action(_ text: String, rule: String) throws(ParseError) -> Action {
        switch text {
        case "complete": return .complete
        case "block": return .block
        case "fail": return .fail
        case "release": return .release(retryAfterSeconds: nil)
        default:
            if text.hasPrefix("release:"), let s = Int(text.dropFirst("release:".count)), (1...86_400).contains(s) {
                return .release(retryAfterSeconds: s)
            }
            throw ParseError(description: "exit rule '\(rule)': the action must be complete, block, fail, release or release:SECONDS (1-86400)")
        }
    }
}
