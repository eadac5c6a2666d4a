export C=3
