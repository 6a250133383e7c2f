import Yams

/// Where a YAML syntax error is, so a broken file is refused with file:line:column like every other
/// refusal (Yams' own description embeds the position and a snippet; we want them apart).
enum YamlSyntaxError {
    static func refusal(_ error: YamlError, file: String) -> ConfigError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let why = (context.map { "\($0.text), " } ?? "") + problem
            return ConfigError(file: file, line: mark.line, column: mark.column, reason: "not valid YAML: \(why)")
        default:
            return ConfigError(file: file, line: 0, column: 0, reason: "not valid YAML: \(error)")
        }
    }
}
