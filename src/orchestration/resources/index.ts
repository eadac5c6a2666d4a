// The resource type table: every type this engine knows, by name.
import { ResourceRegistry } from '../registry.js';
import { noneType, randomStringType, testResourceType, valueType } from './basic.js';
import {
  cloudConfigType,
  multipartMimeType,
  softwareConfigType,
  softwareDeploymentGroupType,
  softwareDeploymentsType,
  softwareDeploymentType,
  structuredConfigType,
  structuredDeploymentGroupType,
  structuredDeploymentsType,
  structuredDeploymentType,
} from './software.js';
import { waitConditionHandleType, waitConditionType } from './wait.js';
import { flavorType, keyPairType, serverGroupType, serverType } from './server.js';
import { netType, portType, subnetType } from './network.js';
import { resourceGroupType } from './nested.js';

const NOT_BUILT = 'is not provided by this cloud (only orchestration of servers, flavors, server groups, networks, subnets, ports and software configuration is); map it to OS::Heat::None in the environment to skip it';

export function createRegistry(): ResourceRegistry {
  const reg = new ResourceRegistry();
  for (const t of [
    noneType,
    testResourceType,
    randomStringType,
    valueType,
    softwareConfigType,
    structuredConfigType,
    cloudConfigType,
    multipartMimeType,
    softwareDeploymentType,
    structuredDeploymentType,
    softwareDeploymentGroupType,
    structuredDeploymentGroupType,
    softwareDeploymentsType,
    structuredDeploymentsType,
    waitConditionHandleType,
    waitConditionType,
    serverType,
    keyPairType,
    flavorType,
    serverGroupType,
    netType,
    subnetType,
    portType,
    resourceGroupType,
  ]) {
    reg.register(t);
  }
  // Schema-only families: validate (property names unchecked), refuse create. Types registered
  // above by their full name win over a prefix (OS::Neutron::Net/Subnet/Port are real; the rest
  // of Neutron is schema-only).
  for (const prefix of ['OS::Neutron::', 'OS::Cinder::', 'OS::Swift::', 'OS::Glance::', 'OS::Keystone::', 'OS::Nova::FloatingIP', 'OS::Heat::AccessPolicy', 'OS::Heat::AutoScalingGroup', 'OS::Heat::ScalingPolicy', 'OS::Heat::Stack', 'OS::Heat::SwiftSignal', 'OS::Aodh::', 'OS::Zaqar::', 'AWS::']) {
    reg.registerSchemaOnly(prefix, NOT_BUILT);
  }
  return reg;
}
