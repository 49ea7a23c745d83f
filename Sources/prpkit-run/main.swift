import PRPKit
print("prpkit")
