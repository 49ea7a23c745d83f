import PRPKit
