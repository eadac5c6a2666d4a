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
import { keyPairType, serverType } from './server.js';
import { resourceGroupType } from './nested.js';

const NOT_BUILT = 'is not provided by this cloud (only orchestration of bare-metal servers and software configuration is); map it to OS::Heat::None in the environment to skip it';

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
    resourceGroupType,
  ]) {
    reg.register(t);
  }
  // Schema-only families: validate (property names unchecked), refuse create.
  for (const prefix of ['OS::Neutron::', 'OS::Cinder::', 'OS::Swift::', 'OS::Glance::', 'OS::Keystone::', 'OS::Nova::Flavor', 'OS::Nova::FloatingIP', 'OS::Nova::ServerGroup', 'OS::Heat::AccessPolicy', 'OS::Heat::AutoScalingGroup', 'OS::Heat::ScalingPolicy', 'OS::Heat::Stack', 'OS::Heat::SwiftSignal', 'OS::Aodh::', 'OS::Zaqar::', 'AWS::']) {
    reg.registerSchemaOnly(prefix, NOT_BUILT);
  }
  return reg;
}
