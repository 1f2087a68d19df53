module k8sserver

go 1.19
