package ewsp

// Command is the name of an inner request (the "cmd" field). The 21 names of
// EWSP.md §1.12 are constants; any other name (e.g. "PING", "status") is
// unknown, with type 0.
type Command string

// The 21 commands, in the order of their type numbers (1–21).
const (
	CmdPing           Command = "ping"
	CmdWake           Command = "wake"
	CmdInfo           Command = "info"
	CmdRestart        Command = "restart"
	CmdOTAStart       Command = "ota_start"
	CmdOpenSetup      Command = "open_setup"
	CmdWebControl     Command = "web_control"
	CmdCloudControl   Command = "cloud_control"
	CmdCryptoInfo     Command = "crypto_info"
	CmdCounterInfo    Command = "counter_info"
	CmdResetCounter   Command = "reset_counter"
	CmdUpdateToken    Command = "update_token"
	CmdSetCloud       Command = "set_cloud"
	CmdGetCloudConfig Command = "get_cloud_config"
	CmdSetWiFi        Command = "set_wifi"
	CmdGetConfig      Command = "get_config"
	CmdSetDeviceID    Command = "set_device_id"
	CmdSetWebAuth     Command = "set_web_auth"
	CmdFactoryReset   Command = "factory_reset"
	CmdChainSync      Command = "chain_sync"
	CmdChainReset     Command = "chain_reset"
)

// Commands returns the 21 commands in type order.
func Commands() []Command {
	return []Command{
		CmdPing, CmdWake, CmdInfo, CmdRestart, CmdOTAStart, CmdOpenSetup,
		CmdWebControl, CmdCloudControl, CmdCryptoInfo, CmdCounterInfo,
		CmdResetCounter, CmdUpdateToken, CmdSetCloud, CmdGetCloudConfig,
		CmdSetWiFi, CmdGetConfig, CmdSetDeviceID, CmdSetWebAuth,
		CmdFactoryReset, CmdChainSync, CmdChainReset,
	}
}

// Type returns the reference's type number of c (1–21), or 0 for a name that
// is not one of the 21 commands (names are case-sensitive).
func (c Command) Type() int {
	n, _ := c.lookup()
	return n
}

// RequiresData reports the reference's requires-data flag of c: whether its
// request carries fields in "d". Unknown names report false.
func (c Command) RequiresData() bool {
	_, d := c.lookup()
	return d
}

// Known reports whether c is one of the 21 commands.
func (c Command) Known() bool { return c.Type() != 0 }

func (c Command) lookup() (typ int, data bool) {
	switch c {
	case CmdPing:
		return 1, false
	case CmdWake:
		return 2, true
	case CmdInfo:
		return 3, false
	case CmdRestart:
		return 4, false
	case CmdOTAStart:
		return 5, false
	case CmdOpenSetup:
		return 6, false
	case CmdWebControl:
		return 7, true
	case CmdCloudControl:
		return 8, true
	case CmdCryptoInfo:
		return 9, false
	case CmdCounterInfo:
		return 10, false
	case CmdResetCounter:
		return 11, false
	case CmdUpdateToken:
		return 12, true
	case CmdSetCloud:
		return 13, true
	case CmdGetCloudConfig:
		return 14, false
	case CmdSetWiFi:
		return 15, true
	case CmdGetConfig:
		return 16, false
	case CmdSetDeviceID:
		return 17, true
	case CmdSetWebAuth:
		return 18, true
	case CmdFactoryReset:
		return 19, false
	case CmdChainSync:
		return 20, true
	case CmdChainReset:
		return 21, false
	}
	return 0, false
}

// internCommand returns b as a Command, without allocating when b is one of
// the 21 names.
func internCommand(b []byte) Command {
	switch string(b) {
	case "ping":
		return CmdPing
	case "wake":
		return CmdWake
	case "info":
		return CmdInfo
	case "restart":
		return CmdRestart
	case "ota_start":
		return CmdOTAStart
	case "open_setup":
		return CmdOpenSetup
	case "web_control":
		return CmdWebControl
	case "cloud_control":
		return CmdCloudControl
	case "crypto_info":
		return CmdCryptoInfo
	case "counter_info":
		return CmdCounterInfo
	case "reset_counter":
		return CmdResetCounter
	case "update_token":
		return CmdUpdateToken
	case "set_cloud":
		return CmdSetCloud
	case "get_cloud_config":
		return CmdGetCloudConfig
	case "set_wifi":
		return CmdSetWiFi
	case "get_config":
		return CmdGetConfig
	case "set_device_id":
		return CmdSetDeviceID
	case "set_web_auth":
		return CmdSetWebAuth
	case "factory_reset":
		return CmdFactoryReset
	case "chain_sync":
		return CmdChainSync
	case "chain_reset":
		return CmdChainReset
	}
	return Command(b)
}
