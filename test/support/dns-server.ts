import { AddressInfo } from 'node:net';
// dns2 ships no type declarations: the few calls used here are typed locally.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dns2 = require('dns2');

interface Question {
  name: string;
  type: number;
}

/**
 * A real DNS server (UDP, loopback, free port) answering TXT and A records from maps the test
 * changes as it goes, for domain verification (point DOMAIN_VERIFY_DNS_SERVERS at `server`).
 */
export interface TestDnsServer {
  server: string;
  txt: Map<string, string[]>;
  a: Map<string, string>;
  close(): Promise<void>;
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const { Packet } = dns2;
  const txt = new Map<string, string[]>();
  const a = new Map<string, string>();
  const udp = dns2.createUDPServer((request: { questions: Question[] }, send: (r: unknown) => void) => {
    const response = Packet.createResponseFromRequest(request);
    for (const q of request.questions) {
      const name = q.name.toLowerCase();
      if (q.type === Packet.TYPE.TXT) {
        for (const data of txt.get(name) ?? []) response.answers.push({ name: q.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 1, data });
      } else if (q.type === Packet.TYPE.A && a.has(name)) {
        response.answers.push({ name: q.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 1, address: a.get(name) });
      }
    }
    send(response);
  });
  await udp.listen(0, '127.0.0.1');
  const { port } = udp.address() as AddressInfo;
  return { server: `127.0.0.1:${port}`, txt, a, close: () => new Promise<void>((resolve) => udp.close(() => resolve())) };
}
