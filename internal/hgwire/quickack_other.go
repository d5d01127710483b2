//go:build !linux

package hgwire

import "syscall"

const quickAckSupported = false

func setQuickAck(syscall.RawConn) {}
