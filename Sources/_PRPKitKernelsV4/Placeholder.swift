public enum KernelsV4Placeholder {}
