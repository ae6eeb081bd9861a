#ifndef EDGEPROOF_CMOSQUITTO_SHIM_H
#define EDGEPROOF_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#include <mqtt_protocol.h>
#endif
