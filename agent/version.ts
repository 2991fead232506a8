/** The agent's version, reported in the `agent` measurement and User-Agent. */
export const AGENT_VERSION = '0.1.0';
