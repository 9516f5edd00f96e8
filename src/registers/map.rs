//! Every register the tool touches, as Victron publishes it: the GX's system and settings,
//! slot 0 on both maps, the firmware version, and the EV charging station both ways.

use super::{Access, Kind, Register};

// com.victronenergy.system and .settings, unit 100.
register!(
    AC_CONSUMPTION_L1,
    817,
    "AC loads L1",
    "/Ac/Consumption/L1/Power",
    U16,
    1,
    "W",
    Read
);
register!(
    AC_CONSUMPTION_L2,
    818,
    "AC loads L2",
    "/Ac/Consumption/L2/Power",
    U16,
    1,
    "W",
    Read
);
register!(
    AC_CONSUMPTION_L3,
    819,
    "AC loads L3",
    "/Ac/Consumption/L3/Power",
    U16,
    1,
    "W",
    Read
);
register!(
    BATTERY_POWER,
    842,
    "battery power",
    "/Dc/Battery/Power",
    I16,
    1,
    "W",
    Read
);
register!(
    BATTERY_SOC,
    843,
    "battery SoC",
    "/Dc/Battery/Soc",
    U16,
    1,
    "%",
    Read
);
register!(
    ESS_STATE,
    2900,
    "ESS state",
    "/Settings/CGwacs/BatteryLife/State",
    U16,
    1,
    "",
    Write
);
register!(
    ESS_MIN_SOC,
    2901,
    "ESS minimum SoC",
    "/Settings/CGwacs/BatteryLife/MinimumSocLimit",
    U16,
    10,
    "%",
    Write
);
register!(
    HUB4_MODE,
    2902,
    "ESS mode (Hub4Mode)",
    "/Settings/CGwacs/Hub4Mode",
    U16,
    1,
    "",
    Write
);
register!(
    DESS_ACTIVE,
    5400,
    "Dynamic ESS active",
    "/DynamicEss/Active",
    U16,
    1,
    "",
    Read
);
register!(
    DESS_ERROR,
    5404,
    "Dynamic ESS error",
    "/DynamicEss/ErrorCode",
    U16,
    1,
    "",
    Read
);
register!(
    DESS_TARGET_SOC,
    5407,
    "Dynamic ESS target SoC",
    "/DynamicEss/TargetSoc",
    U16,
    1,
    "%",
    Read
);
register!(
    DESS_CAPACITY,
    5420,
    "Dynamic ESS battery capacity",
    "/Settings/DynamicEss/BatteryCapacity",
    U16,
    10,
    "kWh",
    Write
);
register!(
    DESS_MODE,
    5423,
    "Dynamic ESS mode",
    "/Settings/DynamicEss/Mode",
    U16,
    1,
    "",
    Write
);
register!(
    SLOT_FEED_IN,
    5424,
    "slot 0 AllowGridFeedIn",
    "/Settings/DynamicEss/Schedule/0/AllowGridFeedIn",
    U16,
    1,
    "",
    Write
);
register!(
    SLOT_DURATION,
    5425,
    "slot 0 Duration",
    "/Settings/DynamicEss/Schedule/0/Duration",
    U16,
    1,
    "s",
    Write
);
register!(
    SLOT_RESTRICTIONS,
    5426,
    "slot 0 Restrictions",
    "/Settings/DynamicEss/Schedule/0/Restrictions",
    U16,
    1,
    "",
    Write
);
register!(
    SLOT_SOC,
    5427,
    "slot 0 Soc",
    "/Settings/DynamicEss/Schedule/0/Soc",
    U16,
    1,
    "%",
    Write
);
register!(
    SLOT_START,
    5428,
    "slot 0 Start",
    "/Settings/DynamicEss/Schedule/0/Start",
    I32,
    1,
    "unix s",
    Write
);
register!(
    SLOT_STRATEGY,
    5430,
    "slot 0 Strategy",
    "/Settings/DynamicEss/Schedule/0/Strategy",
    U16,
    1,
    "",
    Write
);
// The old map (dbus_modbustcp up to v1.0.95, Venus OS v3.50 to at least v3.70): Strategy is
// addressed by a request that starts at 5429, where Start's low word otherwise sits.
register!(
    SLOT_STRATEGY_OLD_MAP,
    5429,
    "slot 0 Strategy",
    "/Settings/DynamicEss/Schedule/0/Strategy",
    U16,
    1,
    "",
    Write
);
register!(
    ESS_SOC_LIMIT,
    2903,
    "ESS active SoC limit",
    "/Settings/CGwacs/BatteryLife/SocLimit",
    U16,
    10,
    "%",
    Read
);
// Served by dbus_modbustcp v1.0.82 and later; older servers answer exception 02.
register!(
    FIRMWARE_VERSION,
    834,
    "GX firmware version",
    "/FirmwareVersion",
    U32,
    1,
    "",
    Read
);

// The EV charging station through the GX's evcharger service (unit 40 by default).
register!(
    GX_EV_MAX_CURRENT,
    3814,
    "EVCS max current",
    "/MaxCurrent",
    U16,
    1,
    "A",
    Write
);
register!(GX_EV_MODE, 3815, "EVCS mode", "/Mode", U16, 1, "", Write);
register!(
    GX_EV_POWER,
    3821,
    "EVCS power",
    "/Ac/Power",
    U16,
    1,
    "W",
    Read
);
register!(
    GX_EV_STATUS,
    3824,
    "EVCS status",
    "/Status",
    U16,
    1,
    "",
    Read
);
register!(
    GX_EV_SET_CURRENT,
    3825,
    "EVCS set current",
    "/SetCurrent",
    U16,
    1,
    "A",
    Write
);
register!(
    GX_EV_START_STOP,
    3826,
    "EVCS start/stop",
    "/StartStop",
    U16,
    1,
    "",
    Write
);

// The EV charging station's own Modbus-TCP server (unit 1).
register!(
    EVCS_MODE,
    5009,
    "EVCS mode",
    "charger mode",
    U16,
    1,
    "",
    Write
);
register!(
    EVCS_START_STOP,
    5010,
    "EVCS start/stop",
    "charger start/stop",
    U16,
    1,
    "",
    Write
);
register!(
    EVCS_POWER,
    5014,
    "EVCS power",
    "charger power",
    U16,
    1,
    "W",
    Read
);
register!(
    EVCS_STATUS,
    5015,
    "EVCS status",
    "charger status",
    U16,
    1,
    "",
    Read
);
register!(
    EVCS_SET_CURRENT,
    5016,
    "EVCS set current",
    "charger set current",
    U16,
    1,
    "A",
    Write
);
register!(
    EVCS_MAX_CURRENT,
    5017,
    "EVCS max current",
    "charger max current",
    U16,
    1,
    "A",
    Write
);

/// One EV charger's controls, wherever they are served: the same six meanings live at 38xx
/// on the GX's evcharger service and at 50xx on the charger's own server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargerMap {
    /// 0 manual, 1 auto, 2 scheduled.
    pub mode: Register,
    /// 0 stop, 1 start.
    pub start_stop: Register,
    pub status: Register,
    /// Applies in manual mode only.
    pub set_current: Register,
    pub max_current: Register,
    pub power: Register,
}

impl ChargerMap {
    pub fn all(&self) -> [Register; 6] {
        [
            self.mode,
            self.start_stop,
            self.status,
            self.set_current,
            self.max_current,
            self.power,
        ]
    }
}

/// The charger through the GX's evcharger service.
pub const GX_CHARGER: ChargerMap = ChargerMap {
    mode: GX_EV_MODE,
    start_stop: GX_EV_START_STOP,
    status: GX_EV_STATUS,
    set_current: GX_EV_SET_CURRENT,
    max_current: GX_EV_MAX_CURRENT,
    power: GX_EV_POWER,
};

/// The charger's own Modbus-TCP server.
pub const EVCS_CHARGER: ChargerMap = ChargerMap {
    mode: EVCS_MODE,
    start_stop: EVCS_START_STOP,
    status: EVCS_STATUS,
    set_current: EVCS_SET_CURRENT,
    max_current: EVCS_MAX_CURRENT,
    power: EVCS_POWER,
};

/// The AC consumption phases 1-3, indexed by phase number − 1.
pub const AC_CONSUMPTION: [Register; 3] = [AC_CONSUMPTION_L1, AC_CONSUMPTION_L2, AC_CONSUMPTION_L3];

/// Every register in the map, for naming an address in a message.
pub const ALL: [Register; 34] = [
    AC_CONSUMPTION_L1,
    AC_CONSUMPTION_L2,
    AC_CONSUMPTION_L3,
    BATTERY_POWER,
    BATTERY_SOC,
    ESS_STATE,
    ESS_MIN_SOC,
    HUB4_MODE,
    DESS_ACTIVE,
    DESS_ERROR,
    DESS_TARGET_SOC,
    DESS_CAPACITY,
    DESS_MODE,
    SLOT_FEED_IN,
    SLOT_DURATION,
    SLOT_RESTRICTIONS,
    SLOT_SOC,
    SLOT_START,
    SLOT_STRATEGY,
    SLOT_STRATEGY_OLD_MAP,
    ESS_SOC_LIMIT,
    FIRMWARE_VERSION,
    GX_EV_MAX_CURRENT,
    GX_EV_MODE,
    GX_EV_POWER,
    GX_EV_STATUS,
    GX_EV_SET_CURRENT,
    GX_EV_START_STOP,
    EVCS_MODE,
    EVCS_START_STOP,
    EVCS_POWER,
    EVCS_STATUS,
    EVCS_SET_CURRENT,
    EVCS_MAX_CURRENT,
];
