// Entry point of the detached BMC process: `node bmc-main.ts <lab-dir>`. Serves the lab's Redfish
// service until SIGTERM. Started and stopped by bmc-process.ts; its pid is in <lab-dir>/bmc.pid.
import { LabPaths, readBmcPassword, readLabRecord } from './state.js';
import { QemuSystems } from './systems.js';
import { buildRedfishApp } from './redfish.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: bmc-main <lab-dir>\n');
  process.exit(2);
}
const paths = new LabPaths(dir);
const lab = await readLabRecord(paths);
if (!lab) {
  process.stderr.write(`bmc: no lab.json in ${dir}\n`);
  process.exit(1);
}
const backend = await new QemuSystems(lab, paths).load();
const app = buildRedfishApp({
  backend,
  username: lab.bmc.username,
  password: await readBmcPassword(paths),
  serviceUuid: lab.bmc.uuid,
  consoleLog: (m) => paths.console(m.name),
});
await app.listen({ host: lab.bmc.host, port: lab.bmc.port });
process.stderr.write(`bmc: Redfish service for lab ${lab.id} listening on ${lab.bmc.url}\n`);
const stop = () => {
  void app.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
