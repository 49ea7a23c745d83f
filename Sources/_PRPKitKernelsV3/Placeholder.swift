public enum KernelsV3Placeholder {}
