/// What defines a relevance rule: its parameters and the few parts the engine asks of it
/// (the parts zennit's hooks are made of: how the parameters are modified, how the input
/// is split, the stabiliser, how the signal is reduced, whether tensors are hooked).
/// Each rule is one type in its own file in Rules/, listed once in `RuleRegistry`; the
/// engine (`RelevancePropagator`) has no knowledge of any particular rule.
///
/// A rule takes one of three shapes:
/// - a Captum tensor-hook rule (`hook` non-nil): the engine divides the signal at the
///   node's output by z' + ε·sign0(z'), applies the node's vector–Jacobian product with the
///   hook's weight, and multiplies by (or replaces with) the signal on the input tensor;
/// - its own backward (`backward` non-nil), with what it computes during the forward pass
///   (`prepare`) and the activations it reads (`forwardNeeds`);
/// - neither: the node's ordinary backward.
protocol RuleDefinition: Sendable {
    /// The name in JSON ({"rule": name, …}), in errors and in `Rule.Kind`.
    static var name: String { get }
    /// The JSON keys of its parameters (besides "rule"); others are rejected.
    static var parameterKeys: Set<String> { get }
    /// The rule from a JSON object whose keys are within `parameterKeys`; absent keys take
    /// the reference's defaults.
    static func decode(_ json: ConfigReader) throws -> Self
    /// Its parameters as JSON members (the inverse of `decode`).
    var parameters: [(String, JSONValue)] { get }
    /// The reference's repr of the rule (Captum's / CaBRNet's class and arguments).
    var description: String { get }
    /// The op kinds it applies to; nil for any.
    static var ops: Set<String>? { get }

    /// Captum's tensor hooks, if the rule works through them.
    var hook: TensorHook? { get }
    /// What its own backward reads and whether it has forward-only work; nil when the
    /// node's ordinary backward (or the hook's) decides.
    func forwardNeeds(_ node: Node) -> ForwardNeeds?
    /// Forward-only quantities, computed while the node's inputs `x` and output are alive.
    func prepare(_ engine: RelevancePropagator, _ node: Node, inputs x: [Tensor], output: Tensor) throws -> (any RuleCache)?
    /// The signal at each of the node's inputs for the signal `g` at its output
    /// ((N·K, output dims…)), or nil to use the node's ordinary backward.
    func backward(_ engine: RelevancePropagator, _ node: Node, _ g: Tensor, state: RelevancePropagator.ForwardState,
                  cache: (any RuleCache)?) throws -> [Tensor?]?
}

extension RuleDefinition {
    static var ops: Set<String>? { nil }
    var hook: TensorHook? { nil }
    func forwardNeeds(_ node: Node) -> ForwardNeeds? { nil }
    func prepare(_ engine: RelevancePropagator, _ node: Node, inputs x: [Tensor], output: Tensor) throws -> (any RuleCache)? { nil }
    func backward(_ engine: RelevancePropagator, _ node: Node, _ g: Tensor, state: RelevancePropagator.ForwardState,
                  cache: (any RuleCache)?) throws -> [Tensor?]? { nil }
}

/// How a Captum tensor-hook rule propagates (lrp_rules.py's PropagationRule).
struct TensorHook: Sendable {
    enum InputHook: Sendable {
        /// Multiply the total signal on the input tensor by the input (every rule but one).
        case multiplyByInput
        /// Replace it by the signal remembered at the node's output (IdentityRule).
        case replaceBySignal
    }
    var input: InputHook = .multiplyByInput
    /// ε in the denominator z' + ε·sign0(z').
    var epsilon: Float
    /// The weight the rule propagates through (W' = f(W)); nil for W itself. A modified
    /// weight means z' is recomputed with it rather than taken from the forward pass.
    var weight: (@Sendable (Tensor) -> Tensor)? = nil
    /// Drop the bias from z' (only with a modified weight, as Captum's GammaRule and
    /// Alpha1_Beta0_Rule do).
    var dropsBias = false
    /// W' has one sign throughout (lets the backward skip a sign split).
    var signDefiniteWeight = false
    /// The rule's own z' from the node's input and the z' above (before ε), made during
    /// the forward pass; nil for that z' itself.
    var denominator: (@Sendable (RelevancePropagator, Node, Tensor, Tensor) -> Tensor)? = nil
}

/// What a rule with its own backward needs from the forward pass.
struct ForwardNeeds: Sendable {
    /// Values (node inputs or outputs) whose activations its backward reads.
    var reads: [String] = []
    /// Whether `prepare` has work for the node.
    var prepared = false
}

/// What a rule computes in the forward pass for its backward, kept in the forward state.
protocol RuleCache: Sendable {
    /// The tensors held (for the forward state's memory accounting).
    var tensors: [Tensor] { get }
}
