import Foundation

/// The OpenAPI 3 document of the REST API, shipped as a resource (`docs/openapi.yaml` is the same file).
enum OpenAPIDocument {
    static let text: String = {
        if let url = Bundle.module.url(forResource: "Resources/openapi", withExtension: "yaml"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        {
            return text
        }
        return "# error: the OpenAPI document is missing from this build of Swell (Resources/openapi.yaml)\n"
    }()
}
