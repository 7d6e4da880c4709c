// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import "./Terminal.sol";
import "./Source.sol";
import "./Task.sol";

/// Test double of the OpenGPU Nexus with the published signatures, events and revert reasons.
/// Like the published contracts it declares no custom errors for protocol checks: every check
/// reverts with a require string. A caller that is neither the provider's master nor an agent
/// of it gets "NotMaster"; the suggested payment is advisory and not checked.
contract Nexus {
    event Registered(address provider, uint256 registrantId, address source, uint8 preferredEnvironment);
    event Attempted(address task, address provider, uint256 suggestedPayment);
    event TaskPublished(address task, address source);
    event TaskStatusChanged(address task, uint8 status);
    event SourcePublished(address source);
    event SourceStatusChanged(address source, uint8 status);
    event ResponseSubmitted(address response, address task);

    uint8 private constant ATTEMPTED = 1;
    uint8 private constant CANCELED = 3;
    uint8 private constant EXPIRED = 4;
    uint8 private constant FINALIZED = 5;

    Terminal public immutable terminal;
    uint256 public registrantCount;
    mapping(address => mapping(address => uint256)) public registrantIdOf; // source => provider => id

    constructor(Terminal terminal_) {
        terminal = terminal_;
    }

    function publishSource(uint256 minLockup) external returns (address) {
        Source source = new Source(msg.sender, minLockup);
        emit SourcePublished(address(source));
        return address(source);
    }

    function setSourceStatus(address source, uint8 status) external {
        require(Source(source).client() == msg.sender, "NotOwner");
        Source(source).setStatus(status);
        emit SourceStatusChanged(source, status);
    }

    function publishTask(address source, string calldata config, uint256 expiryTime)
        external
        payable
        returns (address)
    {
        require(Source(source).getStatus() == 0, "SourceInactive");
        Task task = new Task{value: msg.value}(msg.sender, source, config, expiryTime);
        emit TaskPublished(address(task), source);
        return address(task);
    }

    function finalizeTask(address task) external {
        require(Task(task).client() == msg.sender, "NotOwner");
        require(Task(task).getStatus() != FINALIZED, "Task: AlreadyFinalized");
        Task(task).setStatus(FINALIZED);
        emit TaskStatusChanged(task, FINALIZED);
    }

    function register(address source, address provider, uint8 preferredEnvironment) external {
        _authorize(provider);
        require(Source(source).getStatus() == 0, "SourceInactive");
        require(terminal.lockupOf(provider) >= Source(source).minLockup(), "InsufficientLockup");
        require(preferredEnvironment != 0 && preferredEnvironment < 8, "NotEligible");
        uint256 id = ++registrantCount;
        registrantIdOf[source][provider] = id;
        emit Registered(provider, id, source, preferredEnvironment);
    }

    function unregister(address source, address provider) external {
        _authorize(provider);
        require(registrantIdOf[source][provider] != 0, "NotProvider");
        registrantIdOf[source][provider] = 0;
    }

    function attempt(address task, address provider, uint256 suggestedPayment) external {
        _authorize(provider);
        Task t = Task(task);
        uint8 status = t.getStatus();
        require(status != FINALIZED && status != CANCELED, "Task: AlreadyFinalized");
        require(status != EXPIRED && block.timestamp <= t.getExpiryTime(), "Expired");
        (address source, , , ) = t.taskParams();
        require(Source(source).getStatus() == 0, "SourceInactive");
        require(registrantIdOf[source][provider] != 0, "NotEligible");
        t.recordAttempt();
        emit Attempted(task, provider, suggestedPayment);
        if (status != ATTEMPTED) {
            t.setStatus(ATTEMPTED);
            emit TaskStatusChanged(task, ATTEMPTED);
        }
    }

    function _authorize(address provider) private view {
        address master = terminal.masterOf(provider);
        require(msg.sender == master || terminal.isAgentOf(master, msg.sender), "NotMaster");
    }
}
