#ifndef KANBAN_CZEROMQ_SHIM_H
#define KANBAN_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
