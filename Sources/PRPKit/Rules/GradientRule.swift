extension Rule {
    /// CaBRNet's GradientRule: no hooks; the layer's ordinary backward (for MaxPool2d:
    /// the signal goes to the window's argmax, undivided).
    public static func gradient() -> Rule { Rule(kind: .gradient) }

    /// Captum's treatment of ReLU, Dropout and Tanh: the signal passes through unchanged.
    public static func passThrough() -> Rule { Rule(kind: .passThrough) }
}
