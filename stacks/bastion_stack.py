"""SweetDream-Dev-Bastion (optional, context flag): a shell inside the VPC through SSM only."""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from constructs import Construct

from .base import SweetDreamStack, acknowledge, acknowledge_id, https_out_security_group
from .config import EnvironmentConfig


class BastionStack(SweetDreamStack):
    """An SSM Session Manager host that can reach PostgreSQL. It has no SSH ingress and no key pair:

        aws ssm start-session --target <BastionInstanceId> \\
            --document-name AWS-StartPortForwardingSessionToRemoteHost \\
            --parameters host=<DatabaseEndpoint>,portNumber=5432,localPortNumber=15432
    """

    def __init__(
        self, scope: Construct, *, config: EnvironmentConfig, vpc: ec2.IVpc, database: rds.IDatabaseInstance
    ) -> None:
        if not config.bastion:
            raise ValueError(f"{config.name} has no bastion (context {config.context_key('bastion')})")
        super().__init__(
            scope, "Bastion", config=config, description=f"SweetDream {config.name}: SSM-only bastion host"
        )
        # Out: only HTTPS, for the SSM agent's channel; the way to PostgreSQL is added below.
        security_group = https_out_security_group(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"SweetDream {config.name} bastion: no ingress; egress to SSM and PostgreSQL",
            https_to="SSM Session Manager",
        )
        self.host = ec2.BastionHostLinux(
            self,
            "Host",
            vpc=vpc,
            subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            instance_type=ec2.InstanceType("t4g.nano"),
            security_group=security_group,
            machine_image=ec2.MachineImage.latest_amazon_linux2023(cpu_type=ec2.AmazonLinuxCpuType.ARM_64),
            require_imdsv2=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        8, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )
        self.host.connections.allow_to_default_port(database, "bastion to PostgreSQL (port forwarding)")
        # CDK's own output of the id has a generated suffix; README "Reach the database" uses this one.
        CfnOutput(self, "BastionInstanceId", value=self.host.instance_id,
                  description="aws ssm start-session --target <this>")
        acknowledge(
            self.host,
            "EC28",
            "A throwaway dev bastion, started for a debugging session; "
            "detailed monitoring would cost more than the instance.",
        )
        acknowledge(
            self.host,
            "EC29",
            "The dev bastion is meant to be removed: termination protection "
            "would defeat `cdk destroy` and the context flag that turns it off.",
        )
        for finding in ("IAM5[Action::ssmmessages:*]", "IAM5[Action::ec2messages:*]", "IAM5[Resource::*]"):
            acknowledge(
                self.host,
                finding,
                "Session Manager's channel APIs (ssmmessages, ec2messages) have "
                "no resource-level permissions; this is the policy AWS documents for SSM agents.",
            )
        acknowledge_id(
            self.host,
            "CloudFormation-Validate::W3010",
            "The bastion sits in the first of the "
            "environment's explicit availability zones; synth needs no AZ lookup.",
        )
