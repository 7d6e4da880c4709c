// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// Test double of the OpenGPU Terminal: principals (masters/clients) authorize agents,
/// providers name their master and hold a lockup.
contract Terminal {
    event AgentSet(address account, address agent, bool value);

    /// principal => agent => authorized (public mapping, as in the published ABI)
    mapping(address => mapping(address => bool)) public isAgentOf;
    mapping(address => address) public masterOf;
    mapping(address => uint256) public lockupOf;

    function setAgent(address agent, bool value) external {
        isAgentOf[msg.sender][agent] = value;
        emit AgentSet(msg.sender, agent, value);
    }

    function getIsAgentOf(address master, address agent) external view returns (bool) {
        return isAgentOf[master][agent];
    }

    /// Called by a provider to name the master that manages it.
    function setMaster(address master) external {
        masterOf[msg.sender] = master;
    }

    /// Called by a provider to deposit its lockup.
    function lockup() external payable {
        lockupOf[msg.sender] += msg.value;
    }

    function unlock(uint256 amount) external {
        require(lockupOf[msg.sender] >= amount, "InsufficientBalance");
        lockupOf[msg.sender] -= amount;
        payable(msg.sender).transfer(amount);
    }
}
