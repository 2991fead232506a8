/** The `snmp` section of the agent config: the school gateway, polled over SNMP. */
import { z } from 'zod';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/, 'must be host or host:port, e.g. 192.168.1.1 or 127.0.0.1:16100');

/** The gateway's SNMP settings; no SNMP polling when `host` is unset. */
export const snmpSectionSchema = z
  .strictObject({
    /** host or host:port (port 161 by default). */
    host: hostPort.optional(),
    community: z.string().min(1).default('public'),
    version: z.enum(['1', '2c']).default('2c'),
    /** Per-request timeout, ms. */
    timeoutMs: z.number().int().min(100).max(60000).default(2000),
    /** Re-sends of an unanswered request. */
    retries: z.number().int().min(0).max(5).default(1),
    /** The WAN interface, by ifName/ifDescr or ifIndex. */
    wanInterface: z.union([z.string().min(1), z.number().int().min(1)]).optional(),
    /** Name of the device in the `device` tag. */
    device: z.string().min(1).max(64).default('gateway'),
  })
  .prefault({});

export type SnmpSection = z.output<typeof snmpSectionSchema>;
