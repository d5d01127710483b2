package queue_test

const workerEnv = "SYNCHRONISER_QUEUE_TEST_WORKER"

func workerMain() int { return 2 }
